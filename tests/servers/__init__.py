"""Real servers the tests start on loopback, one module each, registered in conftest."""
