"""Item pipelines: validate -> dedupe -> completeness accounting -> SQL storage."""
