package library

import "syscall"

// Magic numbers of statfs(2) f_type for file systems whose remote changes
// inotify never reports.
var networkMagic = map[int64]string{
	0x6969:     "nfs",
	0x517b:     "smb",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x01021997: "9p",
	0x5346414f: "afs",
	0x00c36400: "ceph",
}

// networkFS reports whether path lies on a network file system, and which.
func networkFS(path string) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "", false
	}
	name, ok := networkMagic[int64(st.Type)]
	return name, ok
}
