"""Canonicalizes documents with libxml2's own C14N code, for the differential test.

xmllint only offers the with-comments forms of whole documents, so this drives the same
library (libxml2.so.2, the one xmllint links) through ctypes: without comments, subtrees, a
subtree minus one descendant (the enveloped-signature node set) and InclusiveNamespaces
prefix lists, all through xmlC14NExecute and a visibility callback.

Requests on stdin, one after another:
    J <doc-bytes> <mode> <with-comments> <apex> <exclude> <prefix>...\n<document bytes>
mode: 0 Canonical XML 1.0, 1 Exclusive 1.0. apex / exclude: index of an element in document
order (0 is the root), -1 for the whole document / nothing left out. Prefixes are the
InclusiveNamespaces PrefixList ("#default" for the default namespace).
Responses on stdout: "OK <n>\n" and n bytes, or "ERR <message>\n".
"""

import ctypes
import sys

lib = ctypes.CDLL("libxml2.so.2")
vp = ctypes.c_void_p

lib.xmlReadMemory.restype = vp
lib.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
lib.xmlFreeDoc.argtypes = [vp]
lib.xmlAllocOutputBuffer.restype = vp
lib.xmlAllocOutputBuffer.argtypes = [vp]
lib.xmlOutputBufferGetContent.restype = vp
lib.xmlOutputBufferGetContent.argtypes = [vp]
lib.xmlOutputBufferGetSize.restype = ctypes.c_size_t
lib.xmlOutputBufferGetSize.argtypes = [vp]
lib.xmlOutputBufferClose.argtypes = [vp]
VISIBLE = ctypes.CFUNCTYPE(ctypes.c_int, vp, vp, vp)
lib.xmlC14NExecute.restype = ctypes.c_int
lib.xmlC14NExecute.argtypes = [vp, VISIBLE, vp, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, vp]

# The options xmllint uses for --c14n, plus no network and no error chatter.
XML_PARSE_NOENT, XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR = 2, 4, 8
XML_PARSE_NOERROR, XML_PARSE_NOWARNING, XML_PARSE_NONET = 32, 64, 2048
OPTIONS = (XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR
           | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NONET)

# struct _xmlNode / _xmlDoc begin with: _private, type, name, children, last, parent, next.
PTR = ctypes.sizeof(vp)
OFF_TYPE, OFF_CHILDREN, OFF_NEXT = PTR, 3 * PTR, 6 * PTR
XML_ELEMENT_NODE = 1


def ptr_at(addr):
    return vp.from_address(addr).value


def node_type(addr):
    return ctypes.c_int.from_address(addr + OFF_TYPE).value


def subtree(addr, out):
    """Appends addr and its descendants (tree nodes, not attributes), in document order."""
    stack = [addr]
    while stack:
        n = stack.pop()
        out.append(n)
        kids = []
        c = ptr_at(n + OFF_CHILDREN)
        if node_type(n) == XML_ELEMENT_NODE:
            while c:
                kids.append(c)
                c = ptr_at(c + OFF_NEXT)
        stack.extend(reversed(kids))


def canonicalize(data, mode, comments, apex, exclude, prefixes):
    doc = lib.xmlReadMemory(data, len(data), b"doc.xml", None, OPTIONS)
    if not doc:
        return None, "libxml2 refused the document"
    try:
        every = []
        c = ptr_at(doc + OFF_CHILDREN)
        while c:
            subtree(c, every)
            c = ptr_at(c + OFF_NEXT)
        elements = [n for n in every if node_type(n) == XML_ELEMENT_NODE]
        callback = ctypes.cast(None, VISIBLE)
        if apex >= 0 or exclude >= 0:
            tree = set(every)
            inside = []
            if apex >= 0:
                subtree(elements[apex], inside)
            else:
                inside = list(every)
            inside = set(inside)
            if exclude >= 0:
                gone = []
                subtree(elements[exclude], gone)
                inside -= set(gone)
            inside_elements = {n for n in inside if node_type(n) == XML_ELEMENT_NODE}

            def visible(_user, node, parent):
                # Tree nodes by identity; attributes and namespace nodes by their element.
                if node in tree:
                    return 1 if node in inside else 0
                return 1 if parent in inside_elements else 0

            callback = VISIBLE(visible)
        plist = None
        if prefixes:
            plist = (ctypes.c_char_p * (len(prefixes) + 1))(*prefixes, None)
        buf = lib.xmlAllocOutputBuffer(None)
        rc = lib.xmlC14NExecute(doc, callback, None, mode, plist, comments, buf)
        out = ctypes.string_at(lib.xmlOutputBufferGetContent(buf), lib.xmlOutputBufferGetSize(buf))
        lib.xmlOutputBufferClose(buf)
        if rc < 0:
            return None, "xmlC14NExecute failed"
        return out, None
    finally:
        lib.xmlFreeDoc(doc)


def main():
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    while True:
        line = inp.readline()
        if not line:
            break
        f = line.rstrip(b"\n").split(b" ")
        n, mode, comments, apex, exclude = (int(x) for x in f[1:6])
        data = inp.read(n)
        result, err = canonicalize(data, mode, comments, apex, exclude, f[6:])
        if err is None:
            out.write(b"OK %d\n" % len(result))
            out.write(result)
        else:
            out.write(b"ERR " + err.encode() + b"\n")
        out.flush()


main()
