# syntax=docker/dockerfile:1
# The worker's image. `docker build -t inventory-worker .`; docker-compose.yml builds it too.
# Node 24 (the current LTS); `--build-arg NODE_VERSION=22` builds on Node 22, also supported.
#
# Docker does not run on CI's machine: script/image-steps.mjs reads this file and carries out its
# instructions without Docker on a clean copy, then runs the worker as this image would and stops
# it (.ci/run runs it). An instruction or flag it does not know stops it: teach it, then use it.
ARG NODE_VERSION=24

# --- build: every dependency, the TypeScript compiled into dist/ -------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# The dependencies before the sources: a change to the code alone reuses this layer. No
# scripts: `prepare` would build before the sources are here; `npm run build` does, below.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY script/build.mjs script/
COPY src/ src/
COPY consumers/ consumers/
COPY jobs/ jobs/
COPY migrations/ migrations/
RUN npm run build

# --- runtime: production dependencies and dist/ only, not root ---------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini is PID 1: it passes SIGTERM and SIGINT on to node and reaps any zombie, so `docker stop`
# runs the worker's graceful shutdown (the same under plain `docker run` and Kubernetes).
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# No scripts: the runtime has no sources for `prepare` to build; no dependency needs one. npm's
# cache is a build cache (BuildKit), not a layer of the image.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist/ dist/
# Owned by root, run as node: the worker cannot change its own code.
USER node
# /healthz, /readyz and /metrics. Every other setting is the worker's default until the
# environment says otherwise (docs/operations.md, "Configuration"): AMQP_URL, REDIS_URL and
# MYSQL_URL name 127.0.0.1, which a container must override.
ENV HTTP_PORT=9464 HTTP_HOST=0.0.0.0
EXPOSE 9464
# Ready: consuming, and Redis, MySQL and the ledger's lag all well (503 otherwise). The start
# period covers migrations and reloading Redis from MySQL; no curl in a slim image: node asks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=6 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
