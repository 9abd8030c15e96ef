/**
 * The calibration figure printed beside every benchmark: 2e8 integer mul/mod iterations, in millions
 * per second. This box is a shared VM; comparing calib across runs tells how fast the box was.
 */
export function calibrate(): number {
  let x = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < 2e8; i++) x = (x + i * 2654435761) % 1000003;
  if (x < 0) console.log(x); // keeps the loop from being optimised away
  return Math.round(200 / (Number(process.hrtime.bigint() - t) / 1e9));
}
