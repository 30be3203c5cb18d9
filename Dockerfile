# Volley's container image: one image for every service; the command names the service.
#   docker build -t volley .
#   docker run --read-only --tmpfs /tmp -e REDIS_URL=... -e VOLLEY_API_KEY=... volley      # the API
#   docker run --read-only ... volley services/sender/dist/main.js                          # a sender
# What goes into /app is built by scripts/build-image-root.sh, which CI also runs in a clean
# copy of the tree and starts the services from (deploy/test/image.check.ts): change the
# image's contents there, not here.

# The current Node.js LTS line; Volley runs on 20, 22, 24 and later.
ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN bash scripts/build-image-root.sh /app

FROM ${NODE_IMAGE}
# Compiled JavaScript and production dependencies only, owned by root and read-only to the
# service's user: nothing is written at run time outside /tmp.
COPY --from=build /app /app
WORKDIR /app
# Containers listen on every interface; the defaults (127.0.0.1) suit a developer's machine.
ENV VOLLEY_API_HOST=0.0.0.0 \
    VOLLEY_METRICS_HOST=0.0.0.0
# The `node` user of the official image, by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
# API; metrics, /healthz and /readyz of api, sender, bounce, collector.
EXPOSE 8080 9464 9465 9466 9467
# Node is PID 1 and every service installs its own SIGTERM and SIGINT handlers (the sender
# drains, the others close), so the signal reaches the code that acts on it without an init;
# no service starts child processes, so there are none to reap.
ENTRYPOINT ["node"]
CMD ["services/api/dist/main.js"]
