# One image for the three sample services (order, payment, shipping); docker-compose.yml picks the entry point.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source (no prebuilt binary is fetched here).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
# Overridden per service in docker-compose.yml.
CMD ["node", "dist/apps/order/apps/order/src/main.js"]
