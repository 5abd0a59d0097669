# The `monitoring` profile's image: Debian's Prometheus and Redis exporter packages.
#
# BASE defaults to Debian's slim image for users with a registry; scripts/build-image
# --monitoring builds a local bookworm root file system with both packages already in
# it (mmdebstrap + docker import) when that cannot be pulled, so nothing here needs
# the network then.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN command -v prometheus >/dev/null && command -v prometheus-redis-exporter >/dev/null \
    || (apt-get update \
        && apt-get install -y --no-install-recommends prometheus prometheus-redis-exporter \
        && rm -rf /var/lib/apt/lists/*)
RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus
COPY compose/prometheus/ /etc/pavm-prometheus/
USER nobody
EXPOSE 9090
CMD ["prometheus", "--config.file=/etc/pavm-prometheus/prometheus.yml", \
     "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=2d", \
     "--web.listen-address=0.0.0.0:9090"]
