# PlanBrief as a service: `planbrief serve` (webhook, /healthz, /readyz, /metrics) on port 8443.
# Build: docker build -t planbrief .   Run: see compose.yaml and README "Deploy".
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLANBRIEF_DATA_DIR=/data \
    PLANBRIEF_SEEDS=/data/seeds \
    PLANBRIEF_WEBHOOK_LISTEN=0.0.0.0 \
    PLANBRIEF_WEBHOOK_PORT=8443

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY seeds ./seeds-initial
# The project itself, pinned by pyproject.toml's ranges (DL3013 asks to pin named packages).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin planbrief \
    && mkdir -p /data \
    && chown planbrief:planbrief /data

# The data folder: seeds (plans), the search index, editor drafts, SQLite if no PostgreSQL. Back it up.
VOLUME ["/data"]
USER 10001
EXPOSE 8443

HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8443/healthz', timeout=4).status == 200 else 1)"]

# First start: copy the shipped plans into the volume (never over an existing seeds folder).
CMD ["sh", "-c", "[ -f /data/seeds/manifest.json ] || cp -r /app/seeds-initial /data/seeds; exec planbrief serve --workers ${PLANBRIEF_WORKERS:-2}"]
