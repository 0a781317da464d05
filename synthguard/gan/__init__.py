"""The conditional WGAN-GP: networks, defences and the training loop."""
