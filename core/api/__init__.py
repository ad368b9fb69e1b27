"""The interfaces' shared layer: the service every interface calls, the REST server and its auth,
and the client side of a remote server."""
