"""Models and a Stripe-like API for the tests of records that say they are deleted (tombstones)."""
