# The hub's image: one image, one role per container (`hub api`, `hub bridge`, ...).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY api ./api
COPY device_profiles ./device_profiles
COPY gateway_firmware_sim ./gateway_firmware_sim
RUN pip install --no-cache-dir . && useradd --system --uid 10001 hub && mkdir /data \
    && chown hub /data
USER hub
ENV HUB_DATA_DIR=/data
ENTRYPOINT ["hub"]
CMD ["api"]
