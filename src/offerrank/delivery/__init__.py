"""What downstream readers get: offer details, reasons a customer can read, exports."""
