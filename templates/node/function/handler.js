"use strict";

// Answers every call with the request's body (an echo).
// event: { body, headers, method, query, path }; context: status(), headers(), succeed(), fail().
module.exports = async (event, context) => {
  return context
    .status(200)
    .succeed(event.body);
};
