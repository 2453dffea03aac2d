"""optimum's merged seq2seq decoder: ``decoder_model_merged.onnx`` (spec/SPEC.md#merged-decoder).

One graph holds both decoders behind an ``If`` on the boolean input ``use_cache_branch``:

* ``use_cache_branch = False``: ``decoder_model.onnx`` (first step: reads ``encoder_hidden_states``);
* ``use_cache_branch = True``: ``decoder_with_past_model.onnx`` (later steps: reads ``past_key_values.*``).

Inputs are the union of both files' inputs plus ``use_cache_branch`` (bool, shape [1]); outputs are
``logits`` and ``present.{i}.(decoder|encoder).(key|value)`` (the cached branch returns empty encoder presents,
(B, H, 0, d): the caller keeps the cross-attention past it fed). The two branches' initializers are deduplicated
by content (name, dtype, shape and bytes may differ in name only) and stored once in the outer graph, so ONNX Runtime
holds the decoder weights once instead of twice.
"""

import hashlib
import os

USE_CACHE_BRANCH = "use_cache_branch"
EXTERNAL_DATA_LIMIT = 1800 * 2**20  # protobuf's 2 GiB cap: larger merged graphs keep their weights beside them


def _key(tensor):
    from onnx import numpy_helper

    arr = numpy_helper.to_array(tensor)
    return (tensor.data_type, tuple(tensor.dims), hashlib.sha256(arr.tobytes()).hexdigest())


def _branch(graph, name, prefix, shared, outer_inputs):
    """``graph`` as an If branch: inputs become outer-scope references, initializers the shared outer
    ones (renamed), every other value name prefixed so the two branches never collide."""
    import onnx

    rename = {init.name: shared[_key(init)] for init in graph.initializer}
    keep = set(outer_inputs)

    def new(n):
        if not n or n in keep:
            return n
        return rename.get(n) or prefix + n

    def fix(g):  # rename in place, recursing into nested subgraphs
        for node in g.node:
            node.name = prefix + node.name
            node.input[:] = [new(n) for n in node.input]
            node.output[:] = [new(n) for n in node.output]
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    fix(attr.g)
                for sub in attr.graphs:
                    fix(sub)

    out = onnx.GraphProto()
    out.CopyFrom(graph)
    out.name = name
    del out.initializer[:]
    del out.input[:]
    del out.value_info[:]
    fix(out)
    for o in out.output:
        o.name = new(o.name)
    return out


def merge_decoders(decoder_path, with_past_path, out_path, log=print):
    """Write ``out_path`` from the two decoder files; returns {"bytes", "shared", "initializers"}."""
    import onnx
    from onnx import helper

    dec = onnx.load(decoder_path)
    past = onnx.load(with_past_path)
    g_dec, g_past = dec.graph, past.graph

    shared, inits = {}, []
    for init in list(g_dec.initializer) + list(g_past.initializer):
        k = _key(init)
        if k not in shared:
            shared[k] = f"shared_{len(inits)}_{init.name}".replace("::", "_")
            t = onnx.TensorProto()
            t.CopyFrom(init)
            t.name = shared[k]
            inits.append(t)
    n_total = len(g_dec.initializer) + len(g_past.initializer)

    inputs = {i.name: i for i in g_dec.input}
    for i in g_past.input:
        inputs.setdefault(i.name, i)
    dec_outputs = [o.name for o in g_dec.output]  # logits, present.{i}.{decoder,encoder}.{key,value}
    past_outputs = {o.name for o in g_past.output}  # logits, present.{i}.decoder.{key,value}
    missing_inputs = [
        n.replace("present.", "past_key_values.")
        for n in dec_outputs
        if n.startswith("present.") and n not in past_outputs
    ]
    for n in missing_inputs:
        if n not in inputs:
            raise ValueError(
                f"{with_past_path}: no input {n!r} for the shape of {n.replace('past_key_values.', 'present.')}"
            )

    else_branch = _branch(g_dec, "decoder_without_past", "nopast/", shared, inputs)
    then_branch = _branch(g_past, "decoder_with_past", "past/", shared, inputs)
    # the cached branch returns empty (B, H, 0, d) cross-attention presents (optimum's merged decoders return
    # placeholder constants there too: callers keep the cross-attention past they already hold). Returning the
    # past itself would copy every layer's cross-attention K/V on every step (batch x layers x 2 x length x d_model
    # floats: hundreds of MB a step for a batch of long documents).
    by_name = {o.name: o for o in g_past.output}
    ordered = []
    if missing_inputs:
        then_branch.node.extend(
            [
                helper.make_node(
                    "Constant",
                    [],
                    [f"past/empty_{k}"],
                    name=f"past/empty_{k}",
                    value=helper.make_tensor(f"past/empty_{k}_value", onnx.TensorProto.INT64, [1], [v]),
                )
                for k, v in (("start", 0), ("end", 0), ("axis", 2))
            ]
        )
    for n in dec_outputs:
        if n in past_outputs:
            o = onnx.ValueInfoProto()
            o.CopyFrom(by_name[n])
            o.name = "past/" + n
        else:
            src = n.replace("present.", "past_key_values.")
            then_branch.node.append(
                helper.make_node(
                    "Slice",
                    [src, "past/empty_start", "past/empty_end", "past/empty_axis"],
                    ["past/" + n],
                    name="past/empty_" + n,
                )
            )
            o = onnx.ValueInfoProto()
            o.CopyFrom(next(x for x in g_dec.output if x.name == n))
            o.name = "past/" + n
        ordered.append(o)
    del then_branch.output[:]
    then_branch.output.extend(ordered)

    flag = helper.make_tensor_value_info(USE_CACHE_BRANCH, onnx.TensorProto.BOOL, [1])
    node = helper.make_node(
        "If", [USE_CACHE_BRANCH], dec_outputs, name="optimum::if", then_branch=then_branch, else_branch=else_branch
    )
    outputs = []
    for o in g_dec.output:
        v = onnx.ValueInfoProto()
        v.CopyFrom(o)
        if o.name.startswith("present.") and ".decoder." in o.name:
            # the cached branch returns P + T positions: a name of its own for that axis
            v.type.tensor_type.shape.dim[2].dim_param = "present_decoder_sequence_length"
        outputs.append(v)
    graph = helper.make_graph([node], "led_decoder_merged", list(inputs.values()) + [flag], outputs, initializer=inits)
    opsets = {o.domain: o.version for o in list(dec.opset_import) + list(past.opset_import)}
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()], producer_name="led-ref"
    )
    model.ir_version = max(dec.ir_version, past.ir_version)
    meta = {p.key: p.value for p in dec.metadata_props}
    meta["led_ref.file"] = "decoder_merged"
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    size = sum(len(t.raw_data) for t in inits)
    if size > EXTERNAL_DATA_LIMIT:
        onnx.save(
            model,
            out_path,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=os.path.basename(out_path) + "_data",
        )
    else:
        onnx.save(model, out_path)
    log(
        f"export: writing {out_path} ({len(inits)} initializers, {n_total - len(inits)} shared between the "
        f"two decoders)"
    )
    return {"bytes": os.path.getsize(out_path), "shared": n_total - len(inits), "initializers": len(inits)}


class MergedBranch:
    """One branch of a loaded ``decoder_model_merged.onnx`` (an ``OrtSession``), with the ``run`` /
    ``input_dtypes`` / ``output_names`` / ``path`` of the separate decoder file it replaces: the inputs the
    branch does not read are fed empty (past of length 0, encoder states of length 0)."""

    def __init__(self, merged, use_cache, config):
        self.merged, self.use_cache = merged, bool(use_cache)
        self.path, self.meta, self.session = merged.path, merged.meta, merged.session
        self.input_dtypes, self.output_names = merged.input_dtypes, merged.output_names
        self.inputs = merged.inputs
        self.bf16_inputs = getattr(merged, "bf16_inputs", frozenset())  # OpenVINO bf16: the key/value cache
        heads = int(config.decoder_attention_heads)
        self.heads, self.head_dim, self.d_model = heads, int(config.d_model) // heads, int(config.d_model)

    def to_device(self, arr, name=None):
        return self.merged.to_device(arr, name)

    def run(self, feeds, device_outputs=None):
        import numpy as np

        batch = int(np.shape(feeds["input_ids"])[0])
        full = dict(feeds)
        for name, dtype in self.input_dtypes.items():
            if name in full:
                continue
            if name == USE_CACHE_BRANCH:
                full[name] = np.array([self.use_cache])
            elif name == "encoder_hidden_states":
                full[name] = np.zeros((batch, 0, self.d_model), dtype)
            elif name.startswith("past_key_values."):
                full[name] = np.zeros((batch, self.heads, 0, self.head_dim), dtype)
        out = self.merged.run(full, device_outputs)
        if self.use_cache:  # the separate with-past file returns no encoder presents
            out = {k: v for k, v in out.items() if not (k.startswith("present.") and ".encoder." in k)}
        return out
