# syntax=docker/dockerfile:1
# Node 20: the uWebSockets.js build the receiver depends on has binaries for Node 20's ABI
# only (README, "Node.js versions"). One pinned image for every stage.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# npm install, not npm ci: package-lock.json lacks the other platforms' packages of the test-only
# dependency chdb (@chdb/lib-darwin-arm64, @chdb/lib-darwin-x64, @chdb/lib-linux-arm64-gnu), so
# npm ci refuses the lockfile as out of sync. npm install takes every version the lockfile has;
# use npm ci here once the lockfile is regenerated against a registry that has those packages.

# Build stage: everything needed to compile (dev dependencies, the SDK workspace).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The SDK package is an npm workspace: its manifest must be there when npm installs.
COPY packages/telemetry/package.json ./packages/telemetry/
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.console.json vite.console.config.ts ./
COPY src ./src
COPY workers ./workers
# npm run build also builds @machpay/telemetry from src/sdk (it is not shipped in this image).
# bench/, native-bench/ and examples/ are not copied: tsconfig.build.json compiles what exists.
COPY packages/telemetry ./packages/telemetry
RUN npm run build

# Production dependencies only, in a clean tree (no dev packages to prune).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/telemetry/package.json ./packages/telemetry/
# The receiver does not import the SDK workspace: drop its link, which would dangle here.
RUN npm install --omit=dev --no-audit --no-fund && rm -f node_modules/@machpay/telemetry

# Runtime stage: tini as PID 1 (forwards SIGTERM to node, reaps the embedded PostgreSQL's
# children when DATABASE_URL is unset), production dependencies, the compiled receiver and
# workers, the console page, the schema migrations and the API description, as a non-root user.
FROM ${NODE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DATA_DIR=/var/lib/machpay
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
COPY --from=build /app/dist/console ./dist/console
COPY schema ./schema
# The server serves docs/openapi.json at /openapi.json and refuses to start without it.
COPY docs/openapi.json ./docs/openapi.json
# machpay_build_info's commit label: docker build --build-arg BUILD_COMMIT=$(git rev-parse HEAD) .
ARG BUILD_COMMIT=""
RUN printf '%s\n' "$BUILD_COMMIT" > BUILD_COMMIT \
 && groupadd --system machpay && useradd --system --gid machpay --home /app machpay \
 && mkdir -p /var/lib/machpay && chown machpay:machpay /var/lib/machpay
USER machpay
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["serve"]
