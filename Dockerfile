# Three stages from one build: `production` (the default, last) runs the gateway; `simulator`
# runs the stand-in for Huawei IAM, TaurusDB and the development identity provider, for compose
# and local trials only. The production image does not contain the simulator: it cannot mint
# tokens, and it cannot fall back to a fake upstream.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev \
  && cp -r dist dist-production \
  && rm -rf dist-production/simulator dist-production/audit/testing

FROM node:24-bookworm-slim AS simulator
ENV NODE_ENV=development
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 4010
CMD ["node", "dist/simulator/main.js"]

FROM node:24-bookworm-slim AS production
ENV NODE_ENV=production
# glibc gives each thread that allocates (the SQLite writer, libuv's pool, V8's helper threads) a
# malloc arena of its own and keeps in each what was freed there: two arenas take 17–28 MB off
# peak RSS under load at the same throughput (docs/PERFORMANCE.md, run 18).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist-production ./dist
COPY package.json ./
COPY config ./config
# The gateway writes here as `node`: the SQLite file and development key, and the signed checkpoint
# files. A named volume mounted on an empty directory of the image starts with its owner; on a
# path the image lacks it would be root's, and every checkpoint file write would be refused.
RUN mkdir -p /app/data /app/checkpoints && chown node:node /app/data /app/checkpoints
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:3000/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A heap limit of 512 MB (7–10 × the live heap under load) makes V8 grow the heap less eagerly:
# peak RSS under load falls by ~140 MB at the same throughput (docs/PERFORMANCE.md, run 5).
# Semi-spaces of 4 MB keep the young generation from growing to 16 MB ones under load, ≈ 20 MB
# of peak RSS (run 9). `npm run start:prod` and the benchmark (bench/processes.ts) use the same flags
# and the same MALLOC_ARENA_MAX.
CMD ["node", "--max-old-space-size=512", "--max-semi-space-size=4", "dist/bundle/main.js"]
