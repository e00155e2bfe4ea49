"""The adapter registry: which LoRA adapter was trained on which data, against which base model (by
fingerprint), deployed where. SQLite by default, PostgreSQL for a team (SQLAlchemy). Never imports torch
except to fingerprint a base named by its catalog shape (benchmarks/models.py builds that config)."""
