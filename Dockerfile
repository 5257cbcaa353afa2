# The gateway's image, as the aigw Helm chart runs it: a static binary on a
# distroless base, as user 65532 (nonroot).
#   docker build -t <registry>/aigw:<tag> .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/aigw-dev/aigw/internal/app.buildVersion=${VERSION}" -o /out/aigw ./cmd/aigw

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/aigw /aigw
USER 65532:65532
ENTRYPOINT ["/aigw"]
