"""Metric analysis before a promotion, with Argo Rollouts' AnalysisTemplate semantics, over Prometheus."""
