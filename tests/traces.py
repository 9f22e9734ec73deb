"""Reading traces back in tests: W3C traceparent headers, and the spans an in-memory exporter kept."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.trace import SpanKind


@dataclass(frozen=True)
class Parent:
    trace_id: str
    span_id: str

    @classmethod
    def parse(cls, header: str) -> Parent:
        version, trace_id, span_id, flags = header.split("-")
        assert version == "00" and len(trace_id) == 32 and len(span_id) == 16 and len(flags) == 2, header
        return cls(trace_id, span_id)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


def ids(span) -> Parent:
    return Parent(format(span.context.trace_id, "032x"), format(span.context.span_id, "016x"))


def parent_of(span) -> Parent | None:
    return Parent(format(span.parent.trace_id, "032x"), format(span.parent.span_id, "016x")) if span.parent else None


def linked(span) -> set[Parent]:
    return {Parent(format(link.context.trace_id, "032x"), format(link.context.span_id, "016x")) for link in span.links}


def spans_named(exporter, name: str, kind: SpanKind | None = None) -> list:
    return [s for s in exporter.get_finished_spans() if s.name == name and (kind is None or s.kind == kind)]


def in_trace(exporter, trace_id: str) -> list:
    return [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
