# The netfence image the Helm chart runs (`netfence controller`, or `netfence serve`).
# Not built in CI here: this machine has no container engine.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# An unprivileged user with a fixed UID, matching the chart's runAsNonRoot.
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin netfence
USER 65532:65532
ENTRYPOINT ["netfence"]
CMD ["controller"]
