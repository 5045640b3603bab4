# One image for the API and the worker (docker-compose.yml picks the command). The package is
# built into a wheel in the first stage, so the final image holds the code once, installed.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV CONVEYOR_DATA_DIR=/data
WORKDIR /data
EXPOSE 8000
CMD ["conveyor", "api", "--host", "0.0.0.0"]
