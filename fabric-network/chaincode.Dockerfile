# Image of the Rust chaincode as a service, from a binary built on the host
# (`cargo build --release -p reciprocal-chaincode`): scripts/network.sh deployCC copies
# target/release/reciprocal-chaincode into an otherwise empty build context, so the repository and its
# target/ directory are never sent to the container engine.
#
# The binary links glibc dynamically: the base image's glibc must be at least as new as the build host's
# (bookworm: 2.36). Override BASE_IMAGE for a newer host, or build a static musl binary.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

COPY reciprocal-chaincode /usr/local/bin/reciprocal-chaincode

# Nothing to write and no privileged port: run as nobody.
USER 65534:65534
ENV CHAINCODE_SERVER_ADDRESS=0.0.0.0:7052
EXPOSE 7052
ENTRYPOINT ["/usr/local/bin/reciprocal-chaincode"]
