# The netfence image the Helm chart runs (`netfence controller`, or `netfence serve`).
# Not built in CI here: this machine has no container engine.

# The console's browser libraries (Cytoscape.js and its layout) from npm, at the exact
# versions of package-lock.json; only their dist files go on.
FROM node:20-slim AS vendor
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/vendor-js ./scripts/
RUN scripts/vendor-js

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=vendor /src/src/netfence/web/static/vendor ./src/netfence/web/static/vendor
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# An unprivileged user with a fixed UID, matching the chart's runAsNonRoot.
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin netfence
USER 65532:65532
ENTRYPOINT ["netfence"]
CMD ["controller"]
