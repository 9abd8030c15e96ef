/* global document, sessionStorage, fetch, URL, setTimeout, location */
// The self-care page (docs/SELFCARE.md): plain JS, no framework, no build step. The customer's key
// is kept in sessionStorage (this tab only) and sent as a Bearer token to the engine's own API.
// Every text from the API goes into the page with textContent, never parsed as markup.
'use strict';

const KEY = 'ocs-selfcare-key';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(path, init = {}) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY)}`, ...(init.headers || {}) };
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiError(res.status, body);
  }
  return res;
}
const json = async (path, init) => (await api(path, init)).json();

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  tr.appendChild(td);
  return td;
}

function fillTable(id, rows, columns, empty) {
  const body = $(id).querySelector('tbody');
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement('tr');
    for (const col of columns) {
      if (typeof col === 'function') col(tr, row);
      else cell(tr, row[col]);
    }
    body.appendChild(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    cell(tr, empty).colSpan = columns.length;
    body.appendChild(tr);
  }
}

const shortDate = (iso) => (iso ? iso.slice(0, 10) : '—');

function say(text, isError) {
  const m = $('message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
  m.hidden = !text;
}

/** Bars for the days with usage; heights by money charged, or by records when no day cost money. */
function drawChart(days, currency) {
  const byMoney = days.some((d) => Number(d.charged) !== 0);
  const value = (d) => (byMoney ? Math.max(0, Number(d.charged)) : d.records); // display only
  const max = Math.max(...days.map(value), 0);
  const W = 600;
  const H = 160;
  const slot = W / Math.max(days.length, 1);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H + 20}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Usage by day, ${byMoney ? `money charged (${currency})` : 'records'}`);
  const axis = document.createElementNS(SVG, 'line');
  axis.setAttribute('class', 'axis');
  axis.setAttribute('x1', '0');
  axis.setAttribute('x2', String(W));
  axis.setAttribute('y1', String(H));
  axis.setAttribute('y2', String(H));
  svg.appendChild(axis);
  days.forEach((d, i) => {
    if (d.records === 0 && Number(d.charged) === 0) return;
    const h = max > 0 ? Math.max(2, (value(d) / max) * (H - 10)) : 2;
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('class', 'bar');
    bar.setAttribute('data-day', d.day);
    bar.setAttribute('x', String(i * slot + slot * 0.15));
    bar.setAttribute('width', String(slot * 0.7));
    bar.setAttribute('y', String(H - h));
    bar.setAttribute('height', String(h));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${d.day}: ${d.charged} ${currency || ''}, ${d.records} record(s)`;
    bar.appendChild(title);
    svg.appendChild(bar);
  });
  for (const i of [0, days.length - 1]) {
    if (!days[i]) continue;
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', String(i === 0 ? 0 : W));
    t.setAttribute('y', String(H + 14));
    t.setAttribute('text-anchor', i === 0 ? 'start' : 'end');
    t.textContent = days[i].day;
    svg.appendChild(t);
  }
  $('chart').replaceChildren(svg);
}

async function downloadPdf(invoice, button) {
  button.disabled = true;
  try {
    const res = await api(`/v1/invoices/${encodeURIComponent(invoice.id)}/pdf`);
    if (res.status === 202) {
      button.textContent = 'Being prepared, try again shortly';
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `${invoice.number || invoice.id}.pdf`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    button.textContent = `PDF: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

async function loadInvoices() {
  let invoices = [];
  try {
    invoices = (await json('/v1/invoices?limit=100')).invoices.reverse(); // newest first
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err; // engines without invoices
  }
  fillTable(
    'invoices',
    invoices,
    [
      (tr, i) => cell(tr, i.number ? `${i.series || ''}${i.number}` : 'draft'),
      (tr, i) => cell(tr, i.issueDate || '—'),
      'status',
      (tr, i) => cell(tr, `${i.total} ${i.currency}`),
      (tr, i) => cell(tr, `${i.amountDue} ${i.currency}`),
      (tr, i) => {
        const td = cell(tr, '');
        if (!i.number) return;
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'pdf';
        b.textContent = 'PDF';
        b.addEventListener('click', () => downloadPdf(i, b));
        td.appendChild(b);
      },
    ],
    'No invoices yet',
  );
}

let accountId = null;

async function load() {
  const me = await json('/v1/me');
  accountId = me.id;
  $('account-id').textContent = me.id;
  $('account-type').textContent = `${me.type}, ${me.status}, ${me.currency || ''}`;
  const money = me.balances.filter((b) => b.unit === 'money');
  fillTable(
    'balances',
    money,
    [
      'id',
      (tr, b) => cell(tr, `${b.available} ${me.currency || ''}`),
      (tr, b) => cell(tr, shortDate(b.expiry)),
    ],
    'No money balance',
  );
  const [summary, daily] = await Promise.all([json('/v1/me/usage/summary'), json('/v1/me/usage/daily')]);
  fillTable(
    'bundles',
    summary.bundles,
    ['id', 'unit', 'available', (tr, b) => cell(tr, shortDate(b.expiry))],
    'No bundles',
  );
  fillTable(
    'plans',
    summary.plans,
    [
      (tr, p) => cell(tr, `${p.plan} ×${p.quantity}`),
      'status',
      (tr, p) => cell(tr, shortDate(p.nextRenewal)),
    ],
    'No plans',
  );
  fillTable(
    'services',
    summary.services,
    ['tor', 'category', 'quantity', (tr, s) => cell(tr, `${s.charged} ${me.currency || ''}`)],
    'No usage this month',
  );
  $('usage-total').textContent = `This month: ${summary.charged} ${me.currency || ''} charged.`;
  drawChart(daily.days, me.currency);
  await loadInvoices();
  $('sign-in').hidden = true;
  $('account').hidden = false;
  $('sign-out').hidden = false;
  say('');
}

async function start() {
  if (!sessionStorage.getItem(KEY)) return;
  try {
    await load();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(KEY);
      say('That key was not accepted. Check it and sign in again.', true);
    } else say(`The account could not be loaded: ${err.message}`, true);
  }
}

$('sign-in-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('key').value.trim());
  $('key').value = '';
  void start();
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  location.reload();
});

$('voucher-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('voucher-result');
  const pin = $('pin').value.replace(/\s+/g, '');
  out.className = '';
  out.textContent = 'Redeeming…';
  try {
    const res = await json(`/v1/accounts/${encodeURIComponent(accountId)}/vouchers/redeem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pin }),
    });
    out.className = 'ok';
    out.textContent = res.amount
      ? `Voucher redeemed: ${res.amount} ${res.currency || ''} added.`
      : 'Voucher redeemed.';
    $('pin').value = '';
    await load();
  } catch (err) {
    out.className = 'error';
    if (err instanceof ApiError && err.status === 404 && err.problem && err.problem.cause === 'NOT_FOUND')
      out.textContent = 'Voucher redemption is not available here yet.';
    else if (err instanceof ApiError && err.status === 429)
      out.textContent = 'Too many attempts. Try again later.';
    else out.textContent = err.message;
  }
});

void start();
