"""The WeChat Official Account channel: an adapter that only translates."""
