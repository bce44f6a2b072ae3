"""Rules that turn syncstream's Bazel libraries into an installable tree.

Nothing here lists a header, an object file or a link flag by hand: each rule
reads them from the CcInfo of the library targets it is given.

  syncstream_shared_library: links the objects of every target under
      //syncstream (and //:version) that the given libraries pull in into one
      shared library with a soname; carries the installed headers and the
      link flags of the system libraries in a SyncstreamLibraryInfo.
  syncstream_install_tree: a directory laid out like a prefix (include/,
      LIBDIR/, bin/, share/) with the pkg-config and CMake files, plus an
      executable that copies it into --prefix=DIR.
  debian_packages: the .debs, from an install tree with prefix /usr.
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")

SyncstreamLibraryInfo = provider(
    doc = "One shared library made of syncstream's own targets.",
    fields = {
        "headers": "depset of the headers to install (their short_path is the include path)",
        "library": "the linked shared library",
        "link_flags": "list of the -l flags of the system libraries it needs, in link order",
        "components": "dict: component name -> list of labels it covers",
    },
)

def _is_syncstream(label):
    # The workspace's own code: //syncstream/... and the root package's
    # //:version. Everything else (@system, @com_google_protobuf) is a
    # system library linked by flag.
    return label.workspace_name == "" and (label.package == "" or
                                           label.package == "syncstream" or
                                           label.package.startswith("syncstream/"))

def _shared_library_impl(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    pic_objects = []
    link_flags = []
    linker_inputs = depset(transitive = [
        dep[CcInfo].linking_context.linker_inputs
        for dep in ctx.attr.deps
    ]).to_list()
    for linker_input in linker_inputs:
        for flag in linker_input.user_link_flags:
            if flag not in link_flags:
                link_flags.append(flag)
        if not _is_syncstream(linker_input.owner):
            continue
        for library in linker_input.libraries:
            if library.pic_objects:
                pic_objects.extend(library.pic_objects)
            elif library.objects:
                fail("%s has no position-independent objects to put in a shared library" % linker_input.owner)
    headers = depset(transitive = [
        dep[CcInfo].compilation_context.headers
        for dep in ctx.attr.deps
    ])
    installed_headers = [
        h
        for h in headers.to_list()
        if h.short_path.startswith("syncstream/") and h.short_path.endswith(".h")
    ]
    soname = "lib%s.so.%s" % (ctx.attr.library_name, ctx.attr.soversion)
    linking_outputs = cc_common.link(
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        compilation_outputs = cc_common.create_compilation_outputs(
            pic_objects = depset(pic_objects),
        ),
        name = ctx.attr.library_name,
        output_type = "dynamic_library",
        user_link_flags = ["-Wl,-soname," + soname, "-Wl,--no-undefined"] + link_flags,
    )
    library = linking_outputs.library_to_link.dynamic_library
    components = {}
    for target, component in ctx.attr.components.items():
        components.setdefault(component, []).append(str(target.label))
    return [
        DefaultInfo(files = depset([library])),
        SyncstreamLibraryInfo(
            headers = depset(installed_headers),
            library = library,
            link_flags = link_flags,
            components = components,
        ),
    ]

syncstream_shared_library = rule(
    implementation = _shared_library_impl,
    doc = "One shared library (lib<library_name>.so) of every syncstream object the components need.",
    attrs = {
        "components": attr.label_keyed_string_dict(
            doc = "Library target -> the component (CMake target syncstream::NAME, pkg-config module syncstream-NAME) it belongs to.",
            providers = [CcInfo],
        ),
        "deps": attr.label_list(providers = [CcInfo]),
        "library_name": attr.string(default = "syncstream"),
        "soversion": attr.string(mandatory = True),
        "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    },
    fragments = ["cpp"],
    toolchains = ["@bazel_tools//tools/cpp:toolchain_type"],
)

def _up(path):
    # "lib/x86_64-linux-gnu/pkgconfig" -> "../../.."
    return "/".join([".." for _ in path.split("/")])

def _expand(ctx, generated, substitutions, template, path, extra = {}):
    out = ctx.actions.declare_file("%s.files/%s" % (ctx.label.name, path))
    subs = dict(substitutions)
    subs.update(extra)
    ctx.actions.expand_template(template = template, output = out, substitutions = subs)
    generated[path] = out

def _install_tree_impl(ctx):
    info = ctx.attr.library[SyncstreamLibraryInfo]
    version = ctx.attr.version
    libdir = ctx.attr.libdir
    library_file = "libsyncstream.so." + version
    components = sorted(info.components.keys())
    substitutions = {
        "@VERSION@": version,
        "@SOVERSION@": ctx.attr.soversion,
        "@LIBDIR@": libdir,
        "@LIBRARY_FILE@": library_file,
        "@PC_PREFIX@": ctx.attr.prefix or ("${pcfiledir}/" + _up(libdir + "/pkgconfig")),
        "@CMAKE_UP@": _up(libdir + "/cmake/syncstream"),
        "@PC_LIBS@": " ".join(info.link_flags),
        "@CMAKE_LINK_LIBRARIES@": ";".join(info.link_flags),
        "@COMPONENTS@": " ".join(components),
    }
    generated = {}  # path in the tree -> File
    _expand(ctx, generated, substitutions, ctx.file._pc_template, libdir + "/pkgconfig/syncstream.pc")
    for component in components:
        _expand(
            ctx,
            generated,
            substitutions,
            ctx.file._component_pc_template,
            "%s/pkgconfig/syncstream-%s.pc" % (libdir, component),
            {"@COMPONENT@": component, "@COMPONENT_TARGETS@": ", ".join(info.components[component])},
        )
    _expand(ctx, generated, substitutions, ctx.file._cmake_config_template, libdir + "/cmake/syncstream/syncstream-config.cmake")
    _expand(ctx, generated, substitutions, ctx.file._cmake_version_template, libdir + "/cmake/syncstream/syncstream-config-version.cmake")

    # (destination, source) pairs; the destinations are relative to the tree.
    entries = [("include/" + h.short_path, h) for h in info.headers.to_list()]
    entries.append((libdir + "/" + library_file, info.library))
    entries.extend(sorted(generated.items()))
    for target in ctx.attr.binaries:
        for f in target[DefaultInfo].files.to_list():
            entries.append(("bin/" + f.basename, f))
    for target, destination in ctx.attr.files.items():
        for f in target[DefaultInfo].files.to_list():
            entries.append((destination, f))

    tree = ctx.actions.declare_directory(ctx.label.name + ".tree")
    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest")
    ctx.actions.write(manifest, "".join(["%s\t%s\n" % (d, f.path) for d, f in entries]))
    ctx.actions.run_shell(
        inputs = [manifest] + [f for _, f in entries],
        outputs = [tree],
        command = """set -eu
while IFS="$(printf '\\t')" read -r dest src; do
  mkdir -p "$1/$(dirname "$dest")"
  cp "$src" "$1/$dest"
  case "$dest" in bin/*|*.so.*) chmod 0755 "$1/$dest" ;; *) chmod 0644 "$1/$dest" ;; esac
done < "$2"
""",
        arguments = [tree.path, manifest.path],
        mnemonic = "SyncstreamInstallTree",
        progress_message = "Laying out the install tree %s" % ctx.label,
    )

    installer = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.expand_template(
        template = ctx.file._install_template,
        output = installer,
        substitutions = {
            "@TREE@": tree.short_path,
            "@LIBDIR@": libdir,
            "@LIBRARY_FILE@": library_file,
            "@SONAME@": "libsyncstream.so." + ctx.attr.soversion,
        },
        is_executable = True,
    )
    return [DefaultInfo(
        executable = installer,
        files = depset([tree]),
        runfiles = ctx.runfiles(files = [tree]),
    )]

syncstream_install_tree = rule(
    implementation = _install_tree_impl,
    doc = """A prefix-shaped directory with everything syncstream installs.

`bazel run` it with --prefix=DIR to install; the pkg-config and CMake files
find the prefix from their own location unless `prefix` fixes it.""",
    executable = True,
    attrs = {
        "binaries": attr.label_list(doc = "Programs for bin/."),
        "files": attr.label_keyed_string_dict(
            doc = "Other files -> their path in the tree.",
            allow_files = True,
        ),
        "libdir": attr.string(default = "lib"),
        "library": attr.label(mandatory = True, providers = [SyncstreamLibraryInfo]),
        "prefix": attr.string(doc = "Absolute prefix for the pkg-config files; empty: relative to the .pc file."),
        "soversion": attr.string(mandatory = True),
        "version": attr.string(mandatory = True),
        "_cmake_config_template": attr.label(default = ":syncstream-config.cmake.in", allow_single_file = True),
        "_cmake_version_template": attr.label(default = ":syncstream-config-version.cmake.in", allow_single_file = True),
        "_component_pc_template": attr.label(default = ":syncstream-component.pc.in", allow_single_file = True),
        "_install_template": attr.label(default = ":install.sh.in", allow_single_file = True),
        "_pc_template": attr.label(default = ":syncstream.pc.in", allow_single_file = True),
    },
)

def _debian_packages_impl(ctx):
    tree_info = ctx.attr.tree[DefaultInfo]
    tree = tree_info.files.to_list()[0]
    installer = tree_info.files_to_run.executable
    names = ["libsyncstream" + ctx.attr.soversion, "libsyncstream-dev", "syncstream"]
    debs = [
        ctx.actions.declare_file("%s_%s_%s.deb" % (name, ctx.attr.version, ctx.attr.arch))
        for name in names
    ]
    ctx.actions.run(
        executable = ctx.executable._build_debs,
        arguments = [
            installer.path,
            tree.path,
            ctx.attr.version,
            ctx.attr.soversion,
            ctx.attr.arch,
            ctx.attr.multiarch,
            ctx.file.license.path,
            ctx.file.changelog.path,
        ] + [deb.path for deb in debs],
        inputs = [tree, installer, ctx.file.license, ctx.file.changelog],
        outputs = debs,
        use_default_shell_env = True,
        mnemonic = "DebianPackages",
        progress_message = "Building the Debian packages %s" % ctx.label,
    )
    return [DefaultInfo(files = depset(debs), runfiles = ctx.runfiles(files = debs))]

debian_packages = rule(
    implementation = _debian_packages_impl,
    doc = "libsyncstreamSOVERSION, libsyncstream-dev and syncstream .debs (see build_debs.sh).",
    attrs = {
        "arch": attr.string(mandatory = True),
        "changelog": attr.label(mandatory = True, allow_single_file = True),
        "license": attr.label(mandatory = True, allow_single_file = True),
        "multiarch": attr.string(mandatory = True),
        "soversion": attr.string(mandatory = True),
        "tree": attr.label(mandatory = True, doc = "A syncstream_install_tree with prefix /usr and libdir lib/MULTIARCH."),
        "version": attr.string(mandatory = True),
        "_build_debs": attr.label(default = ":build_debs", executable = True, cfg = "exec"),
    },
)
