"""The OTLP/HTTP receiver's pieces: decoding requests, compact facts per record, aggregates."""
