"""The lowest floor: canonical RLP (``codec``) and the bounded decoding of whatever
arrives from outside (``untrusted``): nesting checked before any recursive decoder
sees the bytes."""
