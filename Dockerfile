# Truceline: one image for every process of distributed mode (API, relay, scheduler, services).
# The command picks the process; the default is the API. Build: docker build -t truceline .
ARG NODE_IMAGE=node:22-bookworm-slim

# 1. Compile the TypeScript sources with the full (dev) toolchain.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. Production dependencies only, without install scripts.
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The runtime: compiled apps and libraries, production dependencies, a non-root user.
FROM ${NODE_IMAGE} AS runtime
# GLIBC_TUNABLES: the allocator settings of infra/start/malloc-tunables.ts (less resident memory).
ENV NODE_ENV=production \
    PORT=3000 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2 \
    TRUCELINE_DATA_DIR=/app/data
WORKDIR /app
COPY --from=dependencies --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist/apps ./dist/apps
COPY --from=build --chown=root:root /app/dist/libs ./dist/libs
COPY --chown=root:root package.json ./
# The embedded store (no DATABASE_URL) writes here; everything else stays read-only for the app.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/apps/api/src/main.js"]
