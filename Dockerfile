# The engine as a container (the `cluster` profile of docker-compose.yml runs two of them).
#   docker build -t ocs-engine .
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY src ./src
COPY tariffs ./tariffs
COPY tsconfig.json ./
# Listen beyond the container's loopback; API_KEYS must then be set (the demo keys are public).
ENV HOST=0.0.0.0 PORT=3000 DATA_DIR=/var/lib/ocs
RUN mkdir -p /var/lib/ocs && chown node:node /var/lib/ocs
EXPOSE 3000
USER node
CMD ["node", "--import", "tsx", "src/main.ts"]
