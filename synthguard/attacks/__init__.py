"""Membership-inference attacks and the statistics used to score them."""
