"""One encrypted blob store: put, get and delete an organisation's files by scope and key, sealed with the
organisation's data key; a filesystem backend now, any backend with the same small interface later."""
