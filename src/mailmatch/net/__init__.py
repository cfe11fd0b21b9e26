"""Network safety for requests the server makes on a user's behalf."""
