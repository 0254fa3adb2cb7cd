"""What tests share: the platform's REST double, process and server helpers, call harnesses."""
