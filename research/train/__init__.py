"""Training: the shared loop (`loop`), how members share devices (`strategies`), and
running programs chunk by chunk with resumption (`execute`)."""
