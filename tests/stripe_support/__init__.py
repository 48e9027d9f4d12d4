"""Models synced from a (local) Stripe API by the Stripe tests and the docs page "Stripe"."""
