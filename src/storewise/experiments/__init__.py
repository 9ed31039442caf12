"""Online experiments: the statistics of A/B tests, interleaving and off-policy evaluation."""
