"""HL7 v2 adapter: the MLLP listener, the durable outbound queue and message mapping."""
