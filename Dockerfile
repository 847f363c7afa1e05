# syntax=docker/dockerfile:1
# The deployment health monitor's image, the Helm chart's default: `make image`, which runs
# `docker build -t deploy-monitor:<version> .` with the package version of pyproject.toml.
# Build stage: the project's wheel and a wheel of every dependency, built from the source.
# Final stage: python:3.11-slim with those wheels installed, no compiler, no source tree, user 10001.
# tests/helm/test_dockerfile.py checks this structure and performs the same build without Docker.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alert_rules ./alert_rules
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Only the built wheels, bind-mounted from the build stage: they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links /wheels /wheels/deploy_health_monitor-*.whl \
    && groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/monitor --shell /usr/sbin/nologin monitor \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/monitor \
    && install -d -m 0755 /etc/monitor
# The alert rules, for `monitor provision` (Grafana-managed rules) run from the image.
COPY --from=build /src/alert_rules /usr/share/deploy-monitor/alert_rules
ENV MONITOR_RULES_DIR=/usr/share/deploy-monitor/alert_rules
# The default database (sqlite:///monitor.db) lands here; the Helm chart mounts a volume on it.
WORKDIR /var/lib/monitor
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["monitor"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
