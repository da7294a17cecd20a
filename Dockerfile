# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the full dependency set.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The SDK package is an npm workspace: its manifest must be there when npm installs.
COPY packages/telemetry/package.json ./packages/telemetry/
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.console.json vite.console.config.ts ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
COPY native-bench ./native-bench
COPY examples ./examples
# npm run build also builds @machpay/telemetry from src/sdk (it is not shipped in this image).
COPY packages/telemetry ./packages/telemetry
RUN npm run build && npm prune --omit=dev

# Runtime stage: Node 20 (the uWebSockets.js binary targets its ABI), production
# dependencies, compiled code (with the console page in dist/console), the schema migrations
# and the API description, as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DATA_DIR=/var/lib/machpay
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY schema ./schema
# The server serves docs/openapi.json at /openapi.json and refuses to start without it.
COPY docs/openapi.json ./docs/openapi.json
RUN groupadd --system machpay && useradd --system --gid machpay --home /app machpay \
 && mkdir -p /var/lib/machpay && chown machpay:machpay /var/lib/machpay
USER machpay
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
