"""Bulk operations: requeue, purge or resolve every dead job a filter matches, as a
server-side operation over a frozen set of ids, with progress, cancel, dry run and
idempotent creation, resumable after the process running it is killed.

The model is `chronoq.core.operations`, the store `chronoq.redis.operations`;
here are the runner (`OperationRunner`) and the Python API (`operations(app)`).
"""

from chronoq.bulk.operations import Operations, SyncOperations, dead_filter, operations
from chronoq.bulk.runner import OperationRunner

__all__ = ["OperationRunner", "Operations", "SyncOperations", "dead_filter", "operations"]
