# The operator's image: build with dev dependencies, run with production ones only.
# (No image is built in this repository's own environment: it has no container engine.)

FROM node:20 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src operator/src
RUN npm run build

FROM node:20 AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The chart's securityContext runs it as 65532 too (restricted Pod Security).
USER 65532:65532
EXPOSE 8080
CMD ["node", "dist/main.js"]
