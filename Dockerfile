# One image for the API and the worker (docker-compose.yml picks the command). The package is
# built into a wheel in the first stage, so the final image holds the code once, installed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --create-home conveyor
ENV CONVEYOR_DATA_DIR=/data
WORKDIR /data
USER conveyor
# 8000: the API (pages, JSON API, /healthz, /metrics with a monitor.view token); 9464: the
# worker's Prometheus endpoint when CONVEYOR_WORKER_METRICS_PORT says so (docker-compose.yml).
EXPOSE 8000 9464
# `docker stop` sends SIGTERM to `conveyor` (PID 1, exec form): the graceful shutdown, within
# CONVEYOR_SHUTDOWN_GRACE_SECONDS; give the container's stop timeout a little more.
STOPSIGNAL SIGTERM
CMD ["conveyor", "api", "--host", "0.0.0.0"]
