// How `haneul serve` wires the table service to the rest of the server: the bundled object store
// as the table's TableObjectStore (exports write to it, imports read from it: whole-object PUT,
// GET and a paginated ListObjectsV2 through ObjectService::Handle, as any S3 client would make
// them, so exports and imports obey the store's own rules), and the table's read-cache counters
// appended to the invoker's GET /metrics answer.
// Thread-safety: everything here runs on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "haneul/objects/object_service.h"
#include "haneul/table/table_service.h"

namespace haneul::cli {

// `objects` answers the store (null while there is none: calls then fail); the store it answers
// must outlive every use of the returned callbacks.
table::TableObjectStore TableObjectStoreOver(std::function<objects::ObjectService*()> objects);

// A responder that appends extra() to the body of a 200 answer before passing it to inner: the
// table's metrics after the invoker's on one /metrics page.
std::shared_ptr<Responder> AppendingResponder(std::shared_ptr<Responder> inner,
                                              std::function<std::string()> extra);

}  // namespace haneul::cli
