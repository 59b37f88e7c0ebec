# The operator's image: build with dev dependencies, run with production ones only,
# on a distroless Node 24 runtime (no shell, no npm, no package manager; UID 65532).
#
# Reproducible builds: pin each base by digest, e.g.
#   docker build \
#     --build-arg NODE_IMAGE=docker.io/library/node:24-bookworm-slim@sha256:<digest> \
#     --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:<digest> .
# (`docker buildx imagetools inspect IMAGE` or `skopeo inspect docker://IMAGE` prints the
# digest). Without a registry, `npm run image` assembles both bases locally from Debian
# packages and the official Node binary and tags them with these names.
ARG NODE_IMAGE=docker.io/library/node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src operator/src
# The compiler straight away: this stage's Node is the project's own, and `npm run build`
# starts through scripts/toolchain/with-node.sh, which picks it on a host (not in the context).
RUN npx --no-install tsc -p tsconfig.build.json

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The chart's securityContext runs it as 65532 too (restricted Pod Security).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node"]
# V8 flags: operator/src/nodeFlags.ts (a unit test keeps this line equal to it).
CMD ["--max-semi-space-size=8", "--optimize-for-size", "dist/main.js"]
# OCI image labels (the image-spec's annotation keys), last. scripts/image/build.sh passes
# each from its one home: package.json's name, description, license and version. The
# commit's revision and time are not here: buildah's layer cache does not key this step by
# its values, so build.sh sets them on the built image. It also adds
# org.opencontainers.image.source when the checkout has an origin remote.
ARG IMAGE_TITLE
ARG IMAGE_DESCRIPTION
ARG IMAGE_LICENSES
ARG IMAGE_VERSION
LABEL org.opencontainers.image.title="${IMAGE_TITLE}" \
      org.opencontainers.image.description="${IMAGE_DESCRIPTION}" \
      org.opencontainers.image.licenses="${IMAGE_LICENSES}" \
      org.opencontainers.image.version="${IMAGE_VERSION}"
