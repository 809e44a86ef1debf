"""wabahook's back office: migrations, channels, the quickstart and the `wabahook` CLI."""
