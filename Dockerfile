# One image for the API and the worker (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir .
ENV CONVEYOR_DATA_DIR=/data
EXPOSE 8000
CMD ["conveyor", "api", "--host", "0.0.0.0"]
