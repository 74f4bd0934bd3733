# syntax=docker/dockerfile:1
#
# fazt in a `scratch` image: one static binary, nothing else.
#
#   docker build -t fazt .                                      # this machine's platform
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t fazt .
#   docker run -d -p 4698:4698 -v fazt-data:/data fazt
#   docker run --rm -v fazt-data:/data fazt token create --name laptop --scope admin
#
# The build stage always runs on the build machine's own platform
# (--platform=$BUILDPLATFORM, no emulation) and cross-compiles with zig for
# the requested $TARGETPLATFORM, using the same script as CI: cross/build.sh.
#
# Already have a binary (target/dist/fazt-<target>), or no registry to pull
# the Rust image from? cross/Dockerfile.dist packages it into the same image
# without building anything; CI builds that one with podman and runs it
# (cross/image-test.sh). Keep the two final stages the same from USER on
# (cross/dockerfile-lint.sh checks it).

ARG RUST_VERSION=1.95

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
WORKDIR /src

# $TARGETPLATFORM -> Rust target triple.
RUN case "${TARGETPLATFORM:-linux/amd64}" in \
      linux/amd64)              echo x86_64-unknown-linux-musl ;; \
      linux/arm64|linux/arm64/*) echo aarch64-unknown-linux-musl ;; \
      linux/arm/v7)             echo armv7-unknown-linux-musleabihf ;; \
      *) echo "unsupported platform ${TARGETPLATFORM}; use linux/amd64, linux/arm64 or linux/arm/v7" >&2; exit 1 ;; \
    esac > /rust-target && cat /rust-target

# Toolchain first (zig, cargo-zigbuild, rustup target or nightly + rust-src,
# libclang for armv7): this layer is reused until cross/ changes.
COPY cross/ cross/
RUN cross/build.sh --setup-only "$(cat /rust-target)"

COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" && \
    cross/build.sh --no-setup "$target" && \
    cp "target/dist/fazt-$target" /fazt
# The data directory must exist, owned by the runtime user, for the volume to
# be writable: scratch has no mkdir.
RUN mkdir -m 0700 /data && chown 65532:65532 /data

FROM scratch
COPY --from=build /fazt /fazt
COPY --from=build --chown=65532:65532 /data /data
USER 65532:65532
VOLUME /data
ENV FAZT_DB=/data/fazt.db \
    FAZT_LISTEN=0.0.0.0:4698
# 80/443: serve --https (ACME); 4698: plain HTTP default.
EXPOSE 80 443 4698
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/fazt", "healthcheck"]
ENTRYPOINT ["/fazt"]
CMD ["serve", "--listen", "0.0.0.0:4698"]
