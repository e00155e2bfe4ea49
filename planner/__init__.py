"""peftplan's planner: pure-Python cost, capacity and prediction models over measured rows and catalogs.

Never imports torch, transformers, peft or bitsandbytes (tests/test_planner_imports.py checks this).
"""
