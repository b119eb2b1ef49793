"""Seed 002's services (vision, NLP, LLM) as work of the job system: ``batch_processing`` jobs that run one
service's operation over many items (embodied_ai.services.batch_jobs)."""
