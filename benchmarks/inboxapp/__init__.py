"""The model, datasource and receiver of the webhook inbox benchmark (``benchmarks.bench_webhooks``)."""
